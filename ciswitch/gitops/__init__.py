"""The git operations behind ``ciswitch branch``, ``branches``, ``revert``, ``status`` and
``fleet``: the one place that runs git.

Three properties matter more than convenience here, because the same code runs unattended over
whole fleets of repositories:

* **Nothing the user did not ask for changes.** The fix commit is built without an index: the
  changed blobs and trees are written straight into the object database, ``commit-tree`` and
  ``update-ref`` do the rest. The work tree, the index and the checked-out branch stay
  untouched, and only the named files differ from the parent commit.
* **Failures are loud.** GitPython does not raise when a push is rejected; every ref line of
  the push is checked and the remote's own words (hook output) are reported.
* **No credentials leak.** Every message that may contain a URL or git's stderr goes through
  :func:`ciswitch.redact.redact`.

GitPython is imported inside functions: this package is only imported by commands that need
git, and even then ``git`` loads on first use.

``fleet run`` calls all of this once per repository, so each git process counts: what the ref
store (loose ref files, ``packed-refs``) can answer without git is read directly, and git is
asked only when the answer is not certain from the files alone.

The modules, lowest first: :mod:`~ciswitch.gitops.run` (running git, its errors, opening the
repository), :mod:`~ciswitch.gitops.refs` (refs, branches, remotes, fetch),
:mod:`~ciswitch.gitops.worktree` (clean, dirty, detached), :mod:`~ciswitch.gitops.pack` (the
object writer), :mod:`~ciswitch.gitops.commits` (commits and the trailer) and
:mod:`~ciswitch.gitops.push` (merge request push options and the push). Every public name is
re-exported here: ``from ciswitch.gitops import X`` is the way in.
"""

from __future__ import annotations

from ciswitch.gitops.commits import (
    TRAILER,
    TRAILER_KEY,
    TRAILER_VALUE,
    CommitInfo,
    Identity,
    UnknownIdentity,
    commit_files,
    commit_info,
    commit_message,
    file_at,
    has_trailer_commit,
    parse_identity,
    refs_with_trailer,
    trailer_commits,
)
from ciswitch.gitops.provenance import provenance, repository_uri
from ciswitch.gitops.push import (
    MergeRequestOptions,
    PushOptionsRefused,
    PushResult,
    fold_line,
    merge_request_url,
    push_branch,
    push_command,
    restore_branch,
)
from ciswitch.gitops.refs import (
    NoDefaultBranch,
    RemoteBranch,
    branch_sha,
    check_branch_name,
    check_remote,
    commit_object,
    default_branch,
    delete_branch,
    fetch,
    fetch_branch,
    fetch_objects,
    get_remote,
    head_sha,
    is_ancestor,
    ref_commit,
    remote_branch_sha,
    remote_branches,
    remote_url,
    resolve_commit,
    set_branch,
    tree_listing,
)
from ciswitch.gitops.run import (
    check_push_allowed,
    git_error,
    git_output,
    git_process,
    git_text,
    open_repo,
    run_git,
    tie_children,
    work_tree,
)
from ciswitch.gitops.worktree import (
    Dirt,
    branch_worktree,
    current_branch,
    dirt,
    ensure_clean,
    refuse_checked_out,
)

__all__ = [
    "TRAILER", "TRAILER_KEY", "TRAILER_VALUE", "CommitInfo", "Dirt", "Identity",
    "MergeRequestOptions", "NoDefaultBranch", "PushOptionsRefused", "PushResult", "RemoteBranch",
    "UnknownIdentity", "branch_sha", "branch_worktree", "check_branch_name",
    "check_push_allowed", "check_remote", "commit_files",
    "commit_info", "commit_message", "commit_object", "current_branch", "default_branch",
    "delete_branch", "dirt", "ensure_clean", "fetch", "fetch_branch", "fetch_objects", "file_at",
    "fold_line", "get_remote", "git_error", "git_output", "git_process", "git_text",
    "has_trailer_commit", "head_sha", "is_ancestor", "merge_request_url", "open_repo",
    "parse_identity", "provenance", "push_branch", "push_command", "ref_commit",
    "refs_with_trailer", "refuse_checked_out", "remote_branch_sha", "remote_branches",
    "remote_url", "repository_uri", "resolve_commit", "restore_branch", "run_git", "set_branch",
    "tie_children", "trailer_commits", "tree_listing", "work_tree",
]
