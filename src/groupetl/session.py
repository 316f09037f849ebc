"""The one place a SparkSession with Delta Lake is built.

Delta's JVM jars are not in the delta-spark wheel. The first session resolves them from Maven
Central with Spark's own package resolution (Ivy) into a cache folder and records the resolved
jar list there; every later session puts those cached files on ``spark.jars`` and needs no network.

The cache folder is ``$GROUPETL_IVY_DIR`` when set, else ``~/.cache/groupetl/ivy``.

Profiles:
- ``local``: the embedded default, ``local[*]`` (or the configured master) in this process.
- ``test``: as local, with two shuffle partitions and the UI off, for fast tiny DataFrames.
- ``cluster``: the process was started by ``spark-submit``; master and jars come from its command
  line (``groupetl jars --spark-submit`` prints the flags), so only SQL settings are applied here.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata, resources
from pathlib import Path

from groupetl.errors import SetupError

log = logging.getLogger(__name__)

SCALA_VERSION = "2.13"
DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
PROFILES = ("local", "test", "cluster")


def delta_coordinate() -> str:
    """Maven coordinate of the Delta jar that matches the installed pyspark and delta-spark."""
    import pyspark

    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    delta_version = metadata.version("delta-spark")
    return f"io.delta:delta-spark_{spark_minor}_{SCALA_VERSION}:{delta_version}"


def ivy_dir() -> Path:
    """The jar cache folder (see module docstring)."""
    env = os.environ.get("GROUPETL_IVY_DIR")
    return Path(env).expanduser().resolve() if env else Path.home() / ".cache/groupetl/ivy"


def _jar_list_file() -> Path:
    return ivy_dir() / f"groupetl-{delta_coordinate().replace(':', '_')}.jars"


def cached_delta_jars() -> list[str] | None:
    """Paths of the cached Delta jars, or None when they have not been resolved yet."""
    listing = _jar_list_file()
    if not listing.is_file():
        return None
    jars = [line for line in listing.read_text().splitlines() if line.strip()]
    if not jars or not all(Path(j).is_file() for j in jars):
        return None
    return jars


def spark_submit_args() -> list[str]:
    """The ``spark-submit`` flags that put Delta on a job: cached ``--jars`` plus the SQL confs."""
    jars = cached_delta_jars()
    if jars is None:
        raise SetupError(
            "Delta Lake's jars are not cached yet; run `groupetl setup` (or ./dev setup) once "
            "with network access to Maven Central"
        )
    args = [
        "--jars",
        ",".join(jars),
        "--conf",
        f"spark.sql.extensions={DELTA_EXTENSION}",
        "--conf",
        f"spark.sql.catalog.spark_catalog={DELTA_CATALOG}",
        "--conf",
        "spark.sql.session.timeZone=UTC",
    ]
    # Decided here, not in the driver: spark-submit pipes the Python driver's stderr, so only
    # the shell that expands $(groupetl jars --spark-submit) still knows whether it is a terminal.
    if sys.stderr.isatty():
        args += ["--conf", "spark.ui.showConsoleProgress=true"]
    return args


def _log4j_config(verbose: bool) -> str:
    name = "log4j2-verbose.properties" if verbose else "log4j2-quiet.properties"
    return str(resources.files("groupetl").joinpath(name))


def _base_conf(
    warehouse: Path, shuffle_partitions: int, options: Mapping[str, str]
) -> dict[str, str]:
    conf = {
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
        "spark.sql.warehouse.dir": str(warehouse / "spark-warehouse"),
        # Every time in groupetl is UTC (docs/semantics.md "Time and order"); never the machine's zone.
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        # Small tables are common (config-sized dimensions); keep Delta's log replay light.
        "spark.databricks.delta.snapshotPartitions": str(max(2, shuffle_partitions)),
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
    }
    conf.update(options)
    return conf


def build_session(
    *,
    master: str = "local[*]",
    warehouse: Path,
    profile: str = "local",
    shuffle_partitions: int = 8,
    driver_memory: str = "4g",
    options: Mapping[str, str] | None = None,
    app_name: str = "groupetl",
    verbose: bool = False,
):
    """Build (or return the running) SparkSession with Delta Lake for one profile.

    In: where the project's warehouse lives and the configured Spark settings. Out: a session
    whose ``spark_catalog`` is Delta's, with times in UTC. Downloads Delta's jars once if needed.
    """
    from pyspark.sql import SparkSession

    if profile not in PROFILES:
        raise SetupError(f"unknown Spark profile {profile!r}; use one of {', '.join(PROFILES)}")
    if "PYSPARK_GATEWAY_PORT" in os.environ and profile != "test":
        profile = "cluster"  # started by spark-submit: its command line owns master and jars
    if profile == "test":
        shuffle_partitions = 2
    conf = _base_conf(warehouse, shuffle_partitions, options or {})
    builder = SparkSession.builder.appName(app_name)
    if profile != "cluster":
        java_opts = f"-Dlog4j2.configurationFile={_log4j_config(verbose)}"
        conf.update(
            {
                "spark.driver.memory": driver_memory,
                "spark.driver.extraJavaOptions": java_opts,
                # Loopback only: local mode needs no network, so it runs with the network cut.
                "spark.driver.host": "127.0.0.1",
                "spark.driver.bindAddress": "127.0.0.1",
                "spark.ui.showConsoleProgress": str(sys.stderr.isatty()).lower(),
                # Listing thousands of landing files is a Spark job of one task per file past
                # the default threshold (32 paths); on a local disk the driver lists faster.
                "spark.sql.sources.parallelPartitionDiscovery.threshold": "100000",
            }
        )
        conf.update(options or {})
        builder = builder.master(master)
        conf.update(_jar_conf())
    if profile == "test":
        conf.update(
            {
                "spark.ui.enabled": "false",
                "spark.default.parallelism": "2",
                "spark.sql.adaptive.coalescePartitions.initialPartitionNum": "2",
                "spark.ui.showConsoleProgress": "false",
                "spark.databricks.delta.snapshotPartitions": "1",
            }
        )
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("INFO" if verbose else "ERROR")
    _remember_resolved_jars(spark)
    return spark


def _jar_conf() -> dict[str, str]:
    jars = cached_delta_jars()
    if jars is not None:
        return {"spark.jars": ",".join(jars)}
    log.info("Delta jars not cached: resolving %s into %s", delta_coordinate(), ivy_dir())
    ivy_dir().mkdir(parents=True, exist_ok=True)
    return {"spark.jars.packages": delta_coordinate(), "spark.jars.ivy": str(ivy_dir())}


def _remember_resolved_jars(spark) -> None:
    """After a session resolved Delta with Ivy, record the jar files so later runs go offline."""
    if cached_delta_jars() is not None:
        return
    conf = spark.sparkContext.getConf()
    if not conf.get("spark.jars.packages", None):
        return
    jars = [
        j.removeprefix("file:").removeprefix("//")
        for j in conf.get("spark.jars", "").split(",")
        if j.strip()
    ]
    if not jars or not all(Path(j).is_file() for j in jars):
        raise SetupError(f"Spark resolved Delta but its jar list is unusable: {jars!r}")
    _jar_list_file().write_text("\n".join(jars) + "\n")


def session_for(config, profile: str = "local", verbose: bool = False, app_name: str = "groupetl"):
    """Build the session for a loaded ``ProjectConfig`` (the CLI's and the jobs' entry point)."""
    return build_session(
        master=config.spark.master,
        warehouse=config.paths.warehouse,
        profile=profile,
        shuffle_partitions=config.spark.shuffle_partitions,
        driver_memory=config.spark.driver_memory,
        options=config.spark.options,
        app_name=f"{app_name}:{config.project}",
        verbose=verbose,
    )


@contextmanager
def temporary_conf(spark, confs: Mapping[str, str | None]) -> Iterator[None]:
    """Set the SQL confs ``confs`` (None: unset) for the block; restore their values after.

    For settings one stage needs and the stages after it (in the same session) must not get.
    """
    saved = {key: spark.conf.get(key, None) for key in confs}
    try:
        for key, value in confs.items():
            _set_conf(spark, key, value)
        yield
    finally:
        for key, value in saved.items():
            _set_conf(spark, key, value)


def _set_conf(spark, key: str, value: str | None) -> None:
    if value is None:
        spark.conf.unset(key)
    else:
        spark.conf.set(key, value)
