"""YAML as ciswitch reads it: node kinds (:mod:`.nodes`) and where a scalar's value
characters are in the file (:mod:`.spans`)."""
