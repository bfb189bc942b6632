"""The report room: what gcbench shows of results.

- format: every line and table the commands print (run summary, list, record, minheap,
  the comparison table);
- compare: the comparison Table of suites (configurations x collectors, t-test);
- plots: the charts (draw only);
- document: report.html and report.md (table, charts, environment, commands);
- timeline: a run as a Chrome trace; gotrace: Go's gctrace and memstats layout.

Results come in through the io room (store, view) and figures from gcbench.metrics; this
room never runs a workload and never imports the run or suite rooms.
"""
