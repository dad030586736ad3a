"""One shop's experiment: splits, sampling, metering and money, drift against the full-data model,
the decision, and the end-to-end run the notebook calls (:mod:`.one_shop`)."""
