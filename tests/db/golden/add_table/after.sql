CREATE TABLE "Post" (
  id serial PRIMARY KEY,
  title text NOT NULL,
  "authorId" integer NOT NULL REFERENCES "User"(id) ON DELETE CASCADE
);
CREATE INDEX "Post_authorId_idx" ON "Post" ("authorId");
