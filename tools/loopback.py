"""The host name the local stack's Airflow components report (``[core] hostname_callable``).

The api-server fetches a running task's log from ``http://<hostname>:<log server port>``; the local stack's log
server listens on 127.0.0.1 only (see :mod:`tools.airflow_stack`), so that is the name every component reports.
"""


def hostname() -> str:
    return "127.0.0.1"
