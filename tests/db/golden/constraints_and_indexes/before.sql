CREATE TABLE "User" (id integer PRIMARY KEY, email text NOT NULL, age integer);
CREATE TABLE "Post" (id integer PRIMARY KEY, "authorId" integer NOT NULL, title text);
ALTER TABLE "User" ADD CONSTRAINT "User_age_check" CHECK (age >= 0) NOT VALID;
ALTER TABLE "User" ADD CONSTRAINT "User_email_key" UNIQUE (email);
ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey"
  FOREIGN KEY ("authorId") REFERENCES "User"(id) ON DELETE RESTRICT;
CREATE INDEX "Post_title_idx" ON "Post" (title);
