"""The few private library attributes the pipeline relies on, each checked here so that a library
upgrade that removes or changes one fails this test by name instead of a run somewhere else.

- datasets: `Dataset._fingerprint` (content hash of a split; sources._dict_fingerprint) and
  `Dataset._indices` (a select/shuffle view; lm.text_stream), and `datasets.table`'s MemoryMappedTable
  (`path`, `replays`) and ConcatenationTable (`blocks`): which Arrow files a dataset is (lm.text_stream).
- Lightning: `_ExperimentWriter` with `_check_log_dir_exists`, `metrics_file_path` and `metrics_keys`
  (the CSV writer that a resumed run continues; loggers._ContinuedWriter), and `WandbLogger._experiment`
  (whether a W&B run was started; loggers.finish).
"""

from __future__ import annotations

import datasets
from lightning_fabric.loggers.csv_logs import _ExperimentWriter
from pytorch_lightning.loggers import WandbLogger

from data_modules.lm.text_stream import text_batches, whole_files
from data_modules.sources import _dict_fingerprint


def test_datasets_fingerprint_and_indices():
    a = datasets.Dataset.from_dict({"text": ["a b", "c"]})
    b = datasets.Dataset.from_dict({"text": ["a b", "d"]})
    assert isinstance(a._fingerprint, str) and a._fingerprint != b._fingerprint
    assert _dict_fingerprint(datasets.DatasetDict(train=a)) != _dict_fingerprint(
        datasets.DatasetDict(train=b)
    )
    assert a._indices is None
    view = a.select([1, 0])
    assert view._indices is not None
    assert [b.to_pylist() for b in text_batches(view, "text")] == [["c", "a b"]]
    assert whole_files(view) is None


def test_lightning_csv_writer_and_wandb_logger_attributes(tmp_path):
    assert callable(getattr(_ExperimentWriter, "_check_log_dir_exists", None))
    writer = _ExperimentWriter(str(tmp_path))
    assert writer.metrics_file_path.endswith("metrics.csv") and hasattr(writer, "metrics_keys")
    logger = WandbLogger(offline=True, save_dir=str(tmp_path), mode="disabled")
    assert logger._experiment is None  # nothing started until `.experiment` is first read
