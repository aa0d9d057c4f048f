"""The contribution checks: pure functions from a pull request snapshot and the policy to a result each."""
