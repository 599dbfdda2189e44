"""The files a job runs: which files a shell line runs (:mod:`.runs`) and what a Python
helper does with werf (:mod:`.python`)."""
