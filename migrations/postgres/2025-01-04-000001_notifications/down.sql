DROP TABLE scheduled_runs;
DROP TABLE account_tokens;
DROP TABLE outbox;
