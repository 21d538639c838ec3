"""Engine-neutral ingest: what staging needs whichever warehouse the rows go to.

* :mod:`~sparkify.ingest.s3` — the source bucket through the amazon provider's ``S3Hook``: listing, reading, writing;
* :mod:`~sparkify.ingest.staging_ledger` — what the warehouse records about staging: a staging table's columns, the
  objects staged into it (``staged_objects``, by key and ETag), the lines rejected (``load_errors``) and each
  object's shape (``source_observations``);
* :mod:`~sparkify.ingest.contracts` — each source's declared shape (``include/contracts/``), measured and judged;
* :mod:`~sparkify.ingest.jsonpaths` — Redshift's JSONPaths format;
* :mod:`~sparkify.ingest.records` — JSON → typed rows, coerced the way Redshift's COPY does;
* :mod:`~sparkify.ingest.arrow_encoder` — JSON → Arrow tables typed like the staging columns (Arrow's JSON reader,
  or row by row where a line needs coercion or rejection);
* :mod:`~sparkify.ingest.copy_formats` — Arrow tables → ``COPY … FROM STDIN`` bytes: binary (pgpq), or CSV;
* :mod:`~sparkify.ingest.pumps` — threads that overlap downloading, parsing and writing with bounded memory.
"""
