ALTER TABLE "User" VALIDATE CONSTRAINT "User_age_check";
ALTER TABLE "User" DROP CONSTRAINT "User_email_key";
ALTER TABLE "Post" DROP CONSTRAINT "Post_authorId_fkey";
ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey"
  FOREIGN KEY ("authorId") REFERENCES "User"(id) ON DELETE CASCADE NOT VALID;
DROP INDEX "Post_title_idx";
CREATE INDEX "Post_title_idx" ON "Post" (lower(title));
CREATE UNIQUE INDEX "User_email_idx" ON "User" (email) WHERE age IS NOT NULL;
