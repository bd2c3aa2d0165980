"""OCPP conformance suites: cases tagged with OCA test-case ids, run against a CSMS (the bench plays
the station) or a station (the bench plays the CSMS), written as JUnit XML (bench/cli_conformance.py)."""
