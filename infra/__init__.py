"""The LogSight CDK app: one construct per capability, composed by ``infra.stack``."""
