# The project's Airflow image: the official Airflow 3.3 image, the runtime packages of requirements.txt at the versions
# requirements.lock pins (its development tools left out), and the DAG project baked in — dags/, plugins/, include/
# and the tools/ the seeder runs. It runs as the official image's non-root user, airflow (uid 50000).
FROM apache/airflow:3.3.2-python3.11

USER airflow
COPY --chown=airflow:root requirements.txt requirements.lock /opt/sparkify/
# The lock pins the whole closure with hashes; pip takes no hashes in a constraints file, so they are dropped here.
RUN sed -e '/--hash=/d' -e 's/ \\$//' /opt/sparkify/requirements.lock > /opt/sparkify/constraints.txt \
 && pip install --no-cache-dir -r /opt/sparkify/requirements.txt -c /opt/sparkify/constraints.txt

COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root include/ /opt/airflow/include/
COPY --chown=airflow:root tools/ /opt/sparkify/tools/

ENV PYTHONPATH=/opt/airflow/plugins:/opt/sparkify
