"""Environmental monitoring: stations, observations, quality flags, water class, AQI, alerts."""
