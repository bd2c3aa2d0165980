"""The eMSP as a long-running service: configuration (`config.py`) and composition (`app.py`)."""
