"""The per-project migration runbook: what to run, in which order, and how to undo it.

:mod:`ciswitch.runbook.facts` learns the few facts the commands depend on (werf project name,
remote stages address, werf version), :mod:`ciswitch.runbook.plan` turns them into ordered
steps and renders them, :mod:`ciswitch.runbook.runner` executes the runner-side steps.
"""
