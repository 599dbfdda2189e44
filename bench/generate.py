"""Generate large GitLab CI files shaped like real werf 1.1 projects, for the benchmarks.

Real files are mostly ordinary shell (tests, linters, packaging) with a minority of werf jobs,
and they lean on every YAML device GitLab users like: anchors merged into many jobs
(``<<: *x``), ``extends`` chains through hidden templates, a ``default:`` that runs
``werf ci-env``, global and job variables, literal blocks with backslash continuations, plain
multi-line scalars and Cyrillic comments. A benchmark on a file without those would measure a
different program, so the generator mixes them in roughly the proportions of the corpus.

The output is a pure function of (jobs, seed): the same arguments give the same bytes.

Usage: ``python bench/generate.py --jobs 1000 [--seed 1] [--werf-every-job] [-o FILE]``
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from pathlib import Path

DEFAULT_SEED = 20201

_HEADER = """\
# Конвейер сборки и выкладки: werf 1.1, хранилище стадий пока локальное.
# Сгенерировано для нагрузочного теста; структура как в настоящих проектах.
stages:
  - prepare
  - build
  - test
  - deploy
  - cleanup

variables:
  GIT_DEPTH: "10"
  DOCKER_DRIVER: overlay2
{werf_variables}  PIP_CACHE_DIR: "$CI_PROJECT_DIR/.cache/pip"
  npm_config_cache: "$CI_PROJECT_DIR/.npm"

default:
  before_script:
{werf_before_script}  tags:
    - werf
  interruptible: true

# Общие части заданий (якоря)
.retry_policy: &retry_policy
  retry:
    max: 2
    when:
      - runner_system_failure
      - stuck_or_timeout_failure

.py_cache: &py_cache
  key: "py-$CI_COMMIT_REF_SLUG"
  paths:
    - .cache/pip
    - .venv/

{werf_build}.lint_defaults: &lint_defaults
  stage: test
  image: python:3.11-slim
  cache: *py_cache
  script:
    - pip install --quiet ruff mypy
    - ruff check .
    - mypy --strict src
  <<: *retry_policy

.base:
  tags:
    - docker
  variables:
    LANG: C.UTF-8

.test_base:
  extends: .base
  stage: test
  image: python:3.11
  cache: *py_cache

.test_py:
  extends: .test_base
  before_script:
    - python -m venv .venv
    - source .venv/bin/activate
    - pip install -r requirements-dev.txt

{werf_deploy}"""

#: the werf parts of the header (left out of werf-free files)
_WERF_PARTS = {
    "werf_variables": """\
  WERF_VERSION: "1.1 stable"
  WERF_STAGES_STORAGE: ":local"  # TODO: перейти на registry
""",
    "werf_before_script": """\
    - type multiwerf && source $(multiwerf use ${WERF_VERSION} --as-file)
    - type werf && source $(werf ci-env gitlab --verbose --as-file)
""",
    "werf_build": """\
.werf_build: &werf_build
  stage: build
  script:
    - |
      # Сборка и публикация образов
      echo "Сборка для ${CI_COMMIT_REF_NAME}"
      werf build-and-publish \\
        --stages-storage :local \\
        --tag-custom "${CI_COMMIT_SHORT_SHA}" \\
        --log-project-dir
  except:
    - schedules

""",
    "werf_deploy": """\
.werf_deploy:
  extends: .base
  stage: deploy
  script:
    - werf deploy
      --stages-storage :local
      --namespace ${CI_ENVIRONMENT_SLUG}
      --set "global.ci_url=$(echo ${CI_ENVIRONMENT_URL} | cut -d / -f 3)"
  dependencies:
    - build
  when: manual

""",
}
_PLAIN_PARTS = {
    "werf_variables": "",
    "werf_before_script": '    - export PATH="$CI_PROJECT_DIR/bin:$PATH"\n',
    "werf_build": "",
    "werf_deploy": "",
}

_COMMENTS = (
    "# Проверка модуля {i}",
    "# Запуск тестов (медленно, не трогать)",
    "# Временное решение, см. задачу {i}",
    "# Очистка кеша перед сборкой",
    "# Выкладка на стенд {i}",
)
_PY_CMDS = (
    "pytest -q tests/unit/test_mod{i}.py",
    "pytest -q -k 'not slow' tests/integration/pkg{i}",
    "coverage run -m pytest tests/mod{i} && coverage report",
    'python -c "import pkg{i}; print(pkg{i}.__version__)"',
    "python manage.py check --deploy --settings=app.settings.ci{i}",
)
_NODE_CMDS = (
    "npm ci --prefer-offline",
    "npm run lint -- --max-warnings 0",
    "npm test -- --runInBand --testPathPattern=mod{i}",
    'node scripts/check.js --module "mod{i}"',
)
_ENVS = ("review", "staging", "production", "demo", "qa")


def _test_job(rng: random.Random, i: int, out: list[str]) -> None:
    """A Python test job through an extends chain, with a block script of plain shell."""
    out.append(f"test:mod{i}:")
    out.append("  extends: .test_py")
    out.append("  script:")
    out.append(f"    - {rng.choice(_PY_CMDS).format(i=i)}")
    out.append("    - |")
    out.append(f"      {rng.choice(_COMMENTS).format(i=i)}")
    out.append(f'      if [ -f "reports/mod{i}.xml" ]; then')
    out.append(f'        cp "reports/mod{i}.xml" junit.xml')
    out.append("      fi")
    out.append(f"      find . -name '*.pyc' -delete && echo \"готово: mod{i}\"")
    out.append("  artifacts:")
    out.append("    reports:")
    out.append("      junit: junit.xml")


def _node_job(rng: random.Random, i: int, out: list[str]) -> None:
    """A Node job with a plain multi-line scalar (no werf)."""
    out.append(f"node:pkg{i}:")
    out.append("  stage: test")
    out.append("  image: node:20")
    out.append("  <<: *retry_policy")
    out.append("  script:")
    out.append(f"    - {rng.choice(_NODE_CMDS).format(i=i)}")
    out.append(f"    - {rng.choice(_NODE_CMDS).format(i=i)}")
    out.append("    - tar czf dist.tgz dist/")
    out.append("      --exclude '*.map'")
    out.append(f"      --transform 's,^dist,pkg{i},'")
    out.append("  only:")
    out.append("    - merge_requests")


def _lint_job(rng: random.Random, i: int, out: list[str]) -> None:
    """A job built from an anchor used by many jobs."""
    out.append(f"lint:part{i}:")
    out.append("  <<: *lint_defaults")
    out.append("  variables:")
    out.append(f'    LINT_TARGET: "src/part{i}"')
    if rng.random() < 0.5:
        out.append("  allow_failure: true")


def _build_job(rng: random.Random, i: int, out: list[str]) -> None:
    """A werf build job: the anchored block script (one source place for all of them)."""
    out.append(f"build:image{i}:")
    out.append("  <<: *werf_build")
    out.append("  variables:")
    out.append(f'    WERF_DIR: "images/app{i}"')
    if rng.random() < 0.3:
        out.append('    WERF_STAGES_STORAGE: ":local"')
    out.append("  only:")
    out.append("    - main")
    out.append(f"    - /^release-{i}-.*$/")


def _deploy_job(rng: random.Random, i: int, out: list[str]) -> None:
    """A werf deploy job through the hidden template's plain multi-line scalar."""
    env = rng.choice(_ENVS)
    out.append(f"deploy:{env}{i}:")
    out.append("  extends: .werf_deploy")
    out.append("  environment:")
    out.append(f"    name: {env}/app{i}")
    out.append(f"    url: https://app{i}.{env}.example.ru")
    out.append("  variables:")
    out.append(f"    KUBE_NAMESPACE: app{i}-{env}")


def _werf_job(rng: random.Random, i: int, out: list[str]) -> None:
    """A job with its own werf command (its own shell text, so it is parsed on its own)."""
    out.append(f"check:werf{i}:")
    out.append("  stage: test")
    out.append("  script:")
    out.append("    - |")
    out.append(f"      {rng.choice(_COMMENTS).format(i=i)}")
    out.append(f"      werf run --stages-storage :local app{i} \\")
    out.append(f"        -- ./check.sh --module mod{i} \\")
    out.append("        --verbose")
    out.append(f'    - echo "Проверка {i} завершена"')
    if rng.random() < 0.5:
        out.append("  when: manual")


def _cleanup_job(rng: random.Random, i: int, out: list[str]) -> None:
    """A scheduled cleanup job with a one-line werf command and job variables."""
    out.append(f"cleanup:{i}:")
    out.append("  stage: cleanup")
    out.append("  variables:")
    out.append('    WERF_STAGES_STORAGE: ":local"')
    out.append(f'    WERF_LOG_PROJECT_DIR: "{rng.randint(0, 1)}"')
    out.append("  script:")
    out.append("    - docker login -u nobody -p ${WERF_IMAGES_CLEANUP_PASSWORD} ${WERF_REPO}")
    out.append(f"    - werf cleanup --stages-storage :local --dir images/app{i}")
    out.append("  only:")
    out.append("    - schedules")


def _misc_job(rng: random.Random, i: int, out: list[str]) -> None:
    """A packaging job: long literal block of ordinary shell, rules, folded description."""
    out.append(f"package:{i}:")
    out.append("  stage: build")
    out.append("  image: alpine:3.19")
    out.append("  script:")
    out.append("    - >")
    out.append(f"      apk add --no-cache curl jq tar gzip && echo pkg{i}")
    out.append("    - |")
    out.append(f"      VERSION=$(jq -r .version package{i}.json)")
    out.append('      curl -sSf -o "dist/pkg.tgz" "$ARTIFACT_URL/$VERSION" \\')
    out.append("        --retry 3 --retry-delay 2")
    out.append(f'      sha256sum dist/pkg.tgz > "dist/pkg{i}.sha256"')
    out.append("  rules:")
    out.append("    - if: '$CI_COMMIT_TAG'")
    out.append(f"      when: {rng.choice(('always', 'on_success', 'manual'))}")


#: job kinds and their weights: most jobs run ordinary shell, a minority runs werf
_KINDS: tuple[tuple[Callable[[random.Random, int, list[str]], None], int], ...] = (
    (_test_job, 30),
    (_node_job, 15),
    (_lint_job, 15),
    (_misc_job, 12),
    (_build_job, 12),
    (_deploy_job, 9),
    (_werf_job, 4),
    (_cleanup_job, 3),
)
_WERF_KINDS = frozenset({_build_job, _deploy_job, _werf_job, _cleanup_job})


def _werf_after_script(rng: random.Random, i: int, out: list[str]) -> None:
    """A werf command of its own (or a ``:local`` variable) added to a job that had none."""
    choice = rng.randrange(3)
    if choice == 0:
        out.append("  after_script:")
        out.append(f"    - werf cleanup --stages-storage :local --dir images/extra{i}")
    elif choice == 1:
        out.append("  after_script:")
        out.append("    - |")
        out.append(f"      werf run --stages-storage :local extra{i} \\")
        out.append(f"        -- ./report.sh {i}")
    else:
        out.append("  after_script:")
        out.append(f'    - WERF_STAGES_STORAGE=":local" werf purge --dir images/extra{i}')


def generate(
    jobs: int, seed: int = DEFAULT_SEED, *, werf: bool = True, werf_every_job: bool = False
) -> str:
    """A GitLab CI file with ``jobs`` visible jobs (hidden templates not counted).

    ``werf=False`` leaves every werf part out (a project that does not use werf: nothing in
    it is worth a shell parse). ``werf_every_job=True`` gives every job that would have no
    werf command of its own an ``after_script`` with one (``:local`` in every job: the worst
    case for the shell parses and the places)."""
    if werf_every_job and not werf:
        raise ValueError("werf_every_job needs werf")
    rng = random.Random(seed)
    kinds = _KINDS if werf else tuple(k for k in _KINDS if k[0] not in _WERF_KINDS)
    makers = [k for k, _ in kinds]
    weights = [w for _, w in kinds]
    header = _HEADER.format(**(_WERF_PARTS if werf else _PLAIN_PARTS))
    out: list[str] = [header.rstrip("\n"), ""]
    for i in range(jobs):
        maker = rng.choices(makers, weights)[0]
        maker(rng, i, out)
        if werf_every_job and maker not in (_build_job, _deploy_job, _werf_job, _cleanup_job):
            _werf_after_script(rng, i, out)
        out.append("")
    return "\n".join(out)


def generate_lines(
    lines: int, seed: int = DEFAULT_SEED, *, werf: bool = True, werf_every_job: bool = False
) -> str:
    """The smallest generated file with at least ``lines`` lines."""
    jobs = 1
    while True:
        text = generate(jobs, seed, werf=werf, werf_every_job=werf_every_job)
        if text.count("\n") >= lines:
            return text
        jobs += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--jobs", type=int, help="number of visible jobs")
    group.add_argument("--lines", type=int, help="smallest file with at least this many lines")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--no-werf", action="store_true", help="a project without werf")
    parser.add_argument("--werf-every-job", action="store_true", help="werf or :local in every job")
    parser.add_argument("-o", "--output", type=Path, help="write here (default: stdout)")
    args = parser.parse_args(argv)
    if args.no_werf and args.werf_every_job:
        parser.error("--no-werf and --werf-every-job exclude each other")
    kinds = {"werf": not args.no_werf, "werf_every_job": args.werf_every_job}
    if args.jobs is not None:
        text = generate(args.jobs, args.seed, **kinds)
    else:
        text = generate_lines(args.lines, args.seed, **kinds)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
