"""The suite room: many configurations under pyperf, losing no work.

- suitefile: the suite TOML (default.toml is the built-in suite) validated into a Suite
  of Configurations;
- driver: `gcbench suite`: runs each configuration in a pyperf main process, keeps the
  suite JSON, run files and status file current, writes summary and report;
- worker: the pyperf main/worker process of one configuration
  (`python -m gcbench.suite.worker SPEC.json`).

It builds run configurations with the runs room, writes every file through the io room
and uses the report room for the summary table and the report; nothing imports it but
the command line.
"""
