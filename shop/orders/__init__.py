"""Orders: quotes, checkout (the one place that coordinates other capabilities), cancellation."""
