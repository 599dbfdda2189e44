"""Independent oracles the test suite runs against ciswitch."""
