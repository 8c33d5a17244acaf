"""Code that runs on AWS but belongs to the deployment, not to the application."""
