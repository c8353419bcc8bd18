"""The demo platform: the synthetic Wuhan city loaded through the platform's services."""
