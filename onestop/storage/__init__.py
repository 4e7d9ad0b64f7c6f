"""Where the services keep their data: MongoDB, or the embedded store without MONGO_URI."""
