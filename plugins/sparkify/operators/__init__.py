"""The Sparkify operators: Airflow adapters of the engine-neutral modules beside them (see ``sparkify``)."""

from sparkify.operators.analytics import BuildAnalyticsTablesOperator, PublishReportOperator
from sparkify.operators.data_quality import DataQualityOperator
from sparkify.operators.deadlines import CheckDeadlinesOperator
from sparkify.operators.load import LoadDimensionOperator, LoadFactOperator
from sparkify.operators.publish import PublishIntervalOperator
from sparkify.operators.schema import CreateTablesOperator
from sparkify.operators.stage import StageToRedshiftOperator
from sparkify.operators.wait import WaitForS3ObjectSensor

__all__ = [
    "BuildAnalyticsTablesOperator",
    "CheckDeadlinesOperator",
    "CreateTablesOperator",
    "DataQualityOperator",
    "LoadDimensionOperator",
    "LoadFactOperator",
    "PublishIntervalOperator",
    "PublishReportOperator",
    "StageToRedshiftOperator",
    "WaitForS3ObjectSensor",
]
