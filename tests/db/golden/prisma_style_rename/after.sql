-- What `prisma migrate dev` writes for a renamed model: a drop and a create.
DROP TABLE "Post";
CREATE TABLE "Article" (id serial PRIMARY KEY, title text NOT NULL, body text);
