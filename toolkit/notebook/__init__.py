"""What the notebooks display: overview tables and browsing stored results (re-pick without retraining)."""
