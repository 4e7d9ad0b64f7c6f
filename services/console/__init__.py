"""The console: the operators' and center leaders' pages in the browser, and the session behind them."""
