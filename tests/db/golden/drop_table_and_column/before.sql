CREATE TABLE "User" (id serial PRIMARY KEY, email text NOT NULL, nickname varchar(40));
CREATE TABLE "Legacy" (id integer PRIMARY KEY, payload jsonb);
CREATE INDEX "User_nickname_idx" ON "User" (nickname);
