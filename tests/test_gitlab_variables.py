"""The CI model's variables: which definitions a job may run with, in GitLab's precedence
(global < workflow: rules: < job < rules: / parallel: matrix: < trigger variables), read from
real YAML files; and child pipelines of ``trigger: include:``."""

from __future__ import annotations

from pathlib import Path

from ciswitch.analysis.values import is_local
from ciswitch.gitlab import Job, Pipeline, load_pipeline, resolve_value
from ciswitch.model import NotCheckedKind
from ciswitch.workspace import DirectoryWorkspace


def _pipeline(tmp_path: Path, files: dict[str, str]) -> Pipeline:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return load_pipeline(DirectoryWorkspace(tmp_path))


def _values(job: Job, name: str) -> list[tuple[str, str | None]]:
    return [(v.scope, resolve_value(v, job.candidates)) for v in job.candidates.get(name, ())]


def test_conditional_definitions_stay_candidates_down_to_the_first_that_always_holds(
    tmp_path: Path,
) -> None:
    pipeline = _pipeline(
        tmp_path,
        {
            ".gitlab-ci.yml": """\
variables:
  S: global
workflow:
  rules:
    - if: $CI_COMMIT_TAG
      variables: {S: workflow}
build:
  variables: {S: job}
  rules:
    - if: $CI_COMMIT_BRANCH
      variables: {S: rule}
  parallel:
    matrix:
      - S: [m1, m2]
  script: [echo]
plain:
  script: [echo]
""",
        },
    )
    build = pipeline.jobs["build"]
    # matrix and rules above the job's own value; the global and workflow ones never hold
    assert _values(build, "S") == [("matrix", "m2"), ("matrix", "m1"), ("rules", "rule"),
                                   ("job", "job")]
    assert build.variables["S"].scope == "matrix"
    # a job without its own value: the workflow value may win over the global one
    assert _values(pipeline.jobs["plain"], "S") == [("workflow rules", "workflow"),
                                                    ("global", "global")]


def test_expand_false_keeps_the_reference_literal(tmp_path: Path) -> None:
    pipeline = _pipeline(
        tmp_path,
        {
            ".gitlab-ci.yml": """\
variables:
  BASE: ":local"
  CHAINED: ${BASE}
  LITERAL:
    value: $BASE
    expand: false
job:
  script: [echo]
""",
        },
    )
    job = pipeline.jobs["job"]
    assert is_local(resolve_value(job.variables["CHAINED"], job.candidates))
    assert resolve_value(job.variables["LITERAL"], job.candidates) == "$BASE"


def test_child_pipeline_gets_trigger_variables_above_its_own(tmp_path: Path) -> None:
    pipeline = _pipeline(
        tmp_path,
        {
            ".gitlab-ci.yml": """\
variables:
  G: parent-global
kid:
  variables:
    S: from-trigger
  trigger:
    include:
      - local: child.yml
      - project: group/other
        file: x.yml
""",
            "child.yml": """\
variables:
  G: child-global
build:
  variables:
    S: child-job
  script: [echo]
""",
        },
    )
    assert pipeline.jobs["kid"].bridge
    [child] = pipeline.children
    build = child.jobs["build"]
    assert build.name == "build of the child pipeline of kid"
    assert _values(build, "S") == [("trigger", "from-trigger")]
    assert _values(build, "G") == [("trigger", "parent-global")]
    # the child job's own definition is what is left once the trigger one is gone
    assert [v.scope for v in build.definitions["S"]] == ["trigger", "job"]
    assert "child.yml" in [f.path for f in pipeline.files]
    assert any(
        "child pipeline of job kid from include project: group/other" in n.message
        and n.line == 9
        and n.kind is NotCheckedKind.CHILD_PIPELINE
        for n in pipeline.not_checked
    )


def test_child_of_a_child_is_followed_and_named_through_both(tmp_path: Path) -> None:
    pipeline = _pipeline(
        tmp_path,
        {
            ".gitlab-ci.yml": "kid:\n  trigger:\n    include: a.yml\n",
            "a.yml": "grandkid:\n  trigger:\n    include: b.yml\n",
            "b.yml": "deep:\n  script: [echo]\n",
        },
    )
    [child] = pipeline.children
    [grandchild] = child.children
    assert list(j.name for j in grandchild.jobs.values()) == [
        "deep of the child pipeline of grandkid of the child pipeline of kid"
    ]


def test_mappings_merged_from_anchors_are_read_once_and_stay_their_own(tmp_path: Path) -> None:
    """The mappings that come through ``<<:`` merges are read once for every job merging them
    (one tree); two anchors give two trees, a job's own mapping is its own, and a merged
    mapping with a duplicate key says so."""
    pipeline = _pipeline(
        tmp_path,
        {
            ".gitlab-ci.yml": """\
.a: &a
  variables: {S: a}
  cache: {key: x, key: y}
.b: &b
  variables: {S: b}
one:
  <<: *a
  script: [echo]
two:
  <<: *a
  script: [echo]
three:
  <<: *b
  script: [echo]
four:
  <<: *a
  variables: {S: own}
  script: [echo]
""",
        },
    )
    jobs = pipeline.jobs
    assert jobs["one"].config.children["variables"] is jobs["two"].config.children["variables"]
    assert [_values(jobs[name], "S") for name in ("one", "two", "three", "four")] == [
        [("job", "a")], [("job", "a")], [("job", "b")], [("job", "own")]
    ]
    assert [list(jobs[name].config.children["cache"].entries) for name in ("one", "two")] == [
        ["key"], ["key"]
    ]
    assert [n.line for n in pipeline.notices if "duplicate key 'key'" in n.message] == [3]


def test_every_definition_is_listed_once_as_written(tmp_path: Path) -> None:
    """The pipeline lists each job's definitions as written, once: a job extending a
    template lists its own, not the template's again; a job extending nothing lists the ones
    it runs with, ``rules:`` ones included."""
    pipeline = _pipeline(
        tmp_path,
        {
            ".gitlab-ci.yml": """\
variables: {G: g}
.t:
  variables: {A: t}
  rules:
    - if: $X
      variables: {R: t}
job:
  extends: .t
  variables: {B: j}
  script: [echo]
plain:
  variables: {C: p}
  rules:
    - if: $Y
      variables: {R: p}
  script: [echo]
""",
        },
    )
    listed = sorted((v.name, v.text, v.scope) for v in pipeline.variable_definitions)
    assert listed == [
        ("A", "t", "job"), ("B", "j", "job"), ("C", "p", "job"), ("G", "g", "global"),
        ("R", "p", "rules"), ("R", "t", "rules"),
    ]


def test_merge_keys_among_plain_keys_are_each_recognised(tmp_path: Path) -> None:
    """A mapping's keys share one tag object, looked at once: a ``<<`` after plain keys, a
    second one after more of them and one tagged ``!!merge`` are each still merges (the
    first merged mapping wins), and a quoted ``"<<"`` is a plain key."""
    pipeline = _pipeline(
        tmp_path,
        {
            ".gitlab-ci.yml": """\
.a: &a
  variables: {S: a}
.b: &b
  variables: {S: b}
  image: b
.c: &c
  tags: [c]
job:
  script: [echo]
  <<: *a
  stage: test
  <<: *b
  when: always
  !!merge <<: *c
  "<<": quoted
""",
        },
    )
    config = pipeline.jobs["job"].config
    assert config.names() == ["variables", "image", "tags", "script", "stage", "when", "<<"]
    assert _values(pipeline.jobs["job"], "S") == [("job", "a")]
