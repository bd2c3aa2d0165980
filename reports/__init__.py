"""Run records -> tables, plots, a static HTML report and JUnit XML. Reads run directories only."""

from reports.html import REPORT_FILES, write_report
from reports.junit import JunitCase, cases_from_expectations, write_junit, write_junit_suites
from reports.load import SCENARIO_FILE, RunRecords, RunRecordsError, find_trace, iter_trace, load_run

__all__ = [
    "REPORT_FILES",
    "SCENARIO_FILE",
    "JunitCase",
    "RunRecords",
    "RunRecordsError",
    "cases_from_expectations",
    "find_trace",
    "iter_trace",
    "load_run",
    "write_junit",
    "write_junit_suites",
    "write_report",
]
