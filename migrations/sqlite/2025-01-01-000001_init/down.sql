DROP TABLE holidays;
DROP TABLE procedure_components;
DROP TABLE procedures;
DROP TABLE refresh_tokens;
DROP TABLE users;
DROP TABLE units;
