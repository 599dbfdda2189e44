"""What ciswitch learns from a pipeline before any rule runs.

* :mod:`.sites`: the texts that run (a YAML scalar, a shell file, a Python file) and how each
  is located, mapped to its file, edited and verified;
* :mod:`.facts`: what the replay found, as neutral kinds (no rule codes);
* :mod:`.replay`: the walk over jobs and sessions that finds it;
* :mod:`.entries`: edits of ``variables:`` entries.
"""
