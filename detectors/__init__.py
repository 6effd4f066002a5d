"""Detectors turn media and text into typed findings with evidence; they know nothing of the database."""
