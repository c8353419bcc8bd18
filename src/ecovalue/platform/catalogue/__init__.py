"""The eco-product catalogue (生态产品目录清单): yearly versions built from runs and census data."""
