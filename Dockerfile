# The project's Airflow image: the official Airflow 3.3 image plus requirements.txt.
# DAGs, plugins, include/ and tools/ are mounted by docker-compose.yaml, not baked in.
FROM apache/airflow:3.3.2-python3.11

COPY requirements.txt /opt/sparkify/requirements.txt
RUN pip install --no-cache-dir "apache-airflow==3.3.2" -r /opt/sparkify/requirements.txt

ENV PYTHONPATH=/opt/airflow/plugins:/opt/sparkify
