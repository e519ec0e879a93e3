"""Test helpers of target-klaviyo (not shipped: the wheel holds only `target_klaviyo`).

- `harness`: the Klaviyo stand-in over real HTTP (the `klaviyo` fixture) and `run_target`, the
  target run in-process on Singer lines.
- `singer`: Singer messages shaped like tap-intercom-events' records.

Importable as a package wherever target-klaviyo is installed in development mode
(`pip install -e target-klaviyo` puts this directory on the path).
"""
