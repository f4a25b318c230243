"""The programs under programs/ are PyTorch scripts run by hybridgrad run, not test modules."""

collect_ignore_glob = ["programs/*"]
