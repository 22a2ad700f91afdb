CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN');
CREATE TABLE "User" (
  id integer NOT NULL,
  age integer,
  email text NOT NULL,
  bio text DEFAULT 'none',
  role "Role" NOT NULL DEFAULT 'USER',
  name text,
  code text
);
