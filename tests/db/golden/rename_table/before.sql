CREATE TABLE "Post" (id serial PRIMARY KEY, title text NOT NULL);
CREATE TABLE "Comment" (id serial PRIMARY KEY, "postId" integer NOT NULL REFERENCES "Post"(id));
