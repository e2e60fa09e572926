"""Settlement: a completed session priced exactly once with its tariff and the driver's plan
(`services`), the running cost of an active session (`running_cost`), the sessions API with
"explain my bill" (`apis`) and the tasks that settle and sweep (`tasks`)."""
