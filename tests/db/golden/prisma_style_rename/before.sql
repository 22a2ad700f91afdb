CREATE TABLE "Post" (id serial PRIMARY KEY, title text NOT NULL, body text);
