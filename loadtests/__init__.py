"""Load tests: Locust journeys and shapes, the browser comparison, and the headless runner."""
