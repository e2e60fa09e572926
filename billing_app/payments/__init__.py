"""Card payments through Stripe: a hold at authorization, capture at settlement, refunds (`services`);
the driver's Stripe customer and cards (`methods`); the one Stripe client (`stripe_client`); Stripe
webhooks received (`webhooks`) and processed (`stripe_events`); the API, portal views and tasks;
the localstripe setup of `make run` and the tests (`localstripe`)."""
