"""``ciswitch fleet``: the switch applied to many repositories, resumable and shardable.

The package is layered like the rest of ciswitch: :mod:`.sources` lists repositories,
:mod:`.shard` picks this job's share, :mod:`.runner` does per repository what ``ciswitch
branch`` does, :mod:`.journal` remembers every outcome in SQLite so that a crash loses nothing,
and :mod:`.report` / :mod:`.pipeline` present the results and fan the work out on GitLab CI.
"""
