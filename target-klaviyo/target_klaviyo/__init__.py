"""Singer target delivering events and profiles to Klaviyo."""
