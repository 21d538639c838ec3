"""Sparkify warehouse operators and the helpers they share (importable from Airflow's plugins folder)."""
