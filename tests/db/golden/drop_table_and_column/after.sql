DROP TABLE "Legacy";
ALTER TABLE "User" DROP COLUMN nickname;
