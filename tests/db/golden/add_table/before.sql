CREATE TABLE "User" (id serial PRIMARY KEY, email text NOT NULL);
