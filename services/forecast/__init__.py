"""Forecast domain: grid, horizon, seasons, statsforecast models, `auto` selection, intervals.

Pure Python (numpy, statsforecast); no gRPC, no SQL. The gRPC servicer and `anomalywatch forecast`
both call `services.forecast.forecaster.forecast`.
"""
