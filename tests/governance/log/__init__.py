"""Tests of the signed log (governance.log)."""
